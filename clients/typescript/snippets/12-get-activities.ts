// Seed snippet: /work/shared/seed/opportunities-api.txt, "Activities > Get Activities" (lines 184-186).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { getOpportunityActivities } from '@/lib/actions/opportunities'
const result = await getOpportunityActivities('opportunity-uuid')
// Full activity timeline
// seed:end
export { result }
