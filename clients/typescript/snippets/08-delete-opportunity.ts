// Seed snippet: /work/shared/seed/opportunities-api.txt, "Opportunities > Delete Opportunity" (lines 149-150).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { deleteOpportunity } from '@/lib/actions/opportunities'
const result = await deleteOpportunity('opportunity-uuid')
// seed:end
export { result }
