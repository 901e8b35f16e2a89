// Seed snippet: /work/shared/seed/opportunities-api.txt, "Notes > Add Note" (lines 152-156).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { addOpportunityNote } from '@/lib/actions/opportunities'
const result = await addOpportunityNote(
'opportunity-uuid',
'Called and left voicemail. Will try again tomorrow.'
)
// seed:end
export { result }
