// Seed snippet: /work/shared/seed/opportunities-api.txt, "Opportunities > Create Opportunity" (lines 107-130).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { createOpportunity } from '@/lib/actions/opportunities'
// New prospect (not yet a client)
const result = await createOpportunity({
title: 'Interested in Botox package',
prospect_name: 'Jane Doe',
prospect_email: 'jane@example.com',
prospect_phone: '+15551234567',
category_id: 'category-uuid',
estimated_value: 500.00,
probability: 50,
source: 'website',
assigned_to: 'staff-uuid',
follow_up_date: '2026-02-20T10:00:00Z',
description: 'Filled out inquiry form for Botox. First-time client.'
})
// Existing client with new opportunity
const existing = await createOpportunity({
title: 'Membership upgrade',
client_id: 'client-uuid',
category_id: 'membership-category-uuid',
estimated_value: 1200.00,
probability: 75,
source: 'referral'
})
// seed:end
export { result, existing }
