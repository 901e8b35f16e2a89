// Seed snippet: /work/shared/seed/opportunities-api.txt, "Categories > Create Category" (lines 77-81).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { createOpportunityCategory } from '@/lib/actions/opportunities'
const result = await createOpportunityCategory({
name: 'Botox Inquiry',
color: '#10b981' // emerald
})
// seed:end
export { result }
