// Seed snippet: /work/shared/seed/opportunities-api.txt, "Workflows > Membership Expiration Workflow" (lines 247-256).
// It uses names the seed never defines, so it is preceded by the minimum context that defines
// them (imports of the functions it calls, and stand-ins for the form data and dates).
// seed:context
import { createOpportunity } from '@/lib/actions/opportunities'
import { existingClientId } from '../test/support/context.js'
const membershipPrice = 1200.0
const thirtyDaysBeforeExpiration = new Date(Date.now() + 30 * 24 * 60 * 60 * 1000).toISOString()
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
// When a membership is expiring, create opportunity for renewal
const opportunity = await createOpportunity({
title: 'Membership Renewal',
client_id: existingClientId,
category_id: 'renewal-category-uuid',
estimated_value: membershipPrice,
probability: 70, // Existing clients more likely to renew
source: 'internal',
follow_up_date: thirtyDaysBeforeExpiration
})
// seed:end
export { opportunity }
