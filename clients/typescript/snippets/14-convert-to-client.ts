// Seed snippet: /work/shared/seed/opportunities-api.txt, "Convert to Client" (lines 210-216).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { convertToClient } from '@/lib/actions/opportunities'
const result = await convertToClient('opportunity-uuid')
if (result.success) {
const { client_id } = result.data
// Opportunity is now linked to this client
// Prospect info was used to create client record
}
// seed:end
export { result }
