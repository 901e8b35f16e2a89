// Seed snippet: /work/shared/seed/opportunities-api.txt, "Categories > Get Categories" (lines 75-76).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { getOpportunityCategories } from '@/lib/actions/opportunities'
const result = await getOpportunityCategories()
// seed:end
export { result }
