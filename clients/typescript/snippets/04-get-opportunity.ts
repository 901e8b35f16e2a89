// Seed snippet: /work/shared/seed/opportunities-api.txt, "Opportunities > Get Single Opportunity" (lines 104-106).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { getOpportunity } from '@/lib/actions/opportunities'
const result = await getOpportunity('opportunity-uuid')
// Includes full notes and activity history
// seed:end
export { result }
