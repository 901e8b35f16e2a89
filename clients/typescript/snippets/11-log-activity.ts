// Seed snippet: /work/shared/seed/opportunities-api.txt, "Activities > Log Activity" (lines 161-183).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { logOpportunityActivity } from '@/lib/actions/opportunities'
// Log a phone call
const result = await logOpportunityActivity({
opportunity_id: 'opportunity-uuid',
activity_type: 'call',
description: 'Discussed treatment options',
outcome: 'Very interested, sending info packet'
})
// Schedule a follow-up meeting
const meeting = await logOpportunityActivity({
opportunity_id: 'opportunity-uuid',
activity_type: 'meeting',
description: 'Consultation appointment',
scheduled_at: '2026-02-20T14:00:00Z'
})
// Complete a scheduled activity
const completed = await logOpportunityActivity({
opportunity_id: 'opportunity-uuid',
activity_type: 'meeting',
description: 'Consultation completed',
outcome: 'Ready to book, sending proposal',
completed_at: new Date().toISOString()
})
// seed:end
export { result, meeting, completed }
