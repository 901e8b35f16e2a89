// Seed snippet: /work/shared/seed/opportunities-api.txt, "Notes > Get Notes" (lines 157-159).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { getOpportunityNotes } from '@/lib/actions/opportunities'
const result = await getOpportunityNotes('opportunity-uuid')
// Returns notes in reverse chronological order
// seed:end
export { result }
