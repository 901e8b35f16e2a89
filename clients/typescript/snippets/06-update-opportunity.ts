// Seed snippet: /work/shared/seed/opportunities-api.txt, "Opportunities > Update Opportunity" (lines 131-137).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { updateOpportunity } from '@/lib/actions/opportunities'
const result = await updateOpportunity('opportunity-uuid', {
status: 'qualified',
probability: 70,
estimated_value: 600.00,
follow_up_date: '2026-02-25T14:00:00Z'
})
// seed:end
export { result }
