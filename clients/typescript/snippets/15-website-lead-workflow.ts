// Seed snippet: /work/shared/seed/opportunities-api.txt, "Workflows > Website Lead Workflow" (lines 222-246).
// It uses names the seed never defines, so it is preceded by the minimum context that defines
// them (imports of the functions it calls, and stand-ins for the form data and dates).
// seed:context
import { createOpportunity, updateOpportunity, logOpportunityActivity, convertToClient, closeOpportunity } from '@/lib/actions/opportunities'
const formData = { name: 'Maria Lopez', email: 'maria.lopez@example.com', phone: '+15550001111', message: 'Is Botox right for me?' }
const tomorrow = new Date(Date.now() + 24 * 60 * 60 * 1000).toISOString()
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
// 1. Receive inquiry from website form
const opportunity = await createOpportunity({
title: 'Website Inquiry - Botox',
prospect_name: formData.name,
prospect_email: formData.email,
prospect_phone: formData.phone,
source: 'website',
description: formData.message,
follow_up_date: tomorrow
})
// 2. Assign to staff
await updateOpportunity(opportunity.data.id, {
assigned_to: 'sales-staff-uuid'
})
// 3. Staff makes contact
await logOpportunityActivity({
opportunity_id: opportunity.data.id,
activity_type: 'call',
description: 'Initial outreach call',
outcome: 'Left voicemail'
})
// 4. Follow up, qualify, etc.
// 5. Convert when ready to book
await convertToClient(opportunity.data.id)
await closeOpportunity(opportunity.data.id, { won: true })
// seed:end
export { opportunity }
