// Seed snippet: /work/shared/seed/opportunities-api.txt, "Opportunities > Close Opportunity" (lines 138-148).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { closeOpportunity } from '@/lib/actions/opportunities'
// Won!
const won = await closeOpportunity('opportunity-uuid', {
won: true,
transaction_id: 'transaction-uuid' // optional: link to sale
})
// Lost
const lost = await closeOpportunity('opportunity-uuid', {
won: false,
reason: 'Went with competitor - price sensitive'
})
// seed:end
export { won, lost }
