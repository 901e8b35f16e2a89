// Seed snippet: /work/shared/seed/opportunities-api.txt, "Pipeline Statistics > Get Stats" (lines 188-189).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { getOpportunityStats } from '@/lib/actions/opportunities'
const result = await getOpportunityStats()
// seed:end
export { result }
