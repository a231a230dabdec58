// Reports of a repair journal: JSON (for machines, verifiable against the journal), HTML, PDF.
export { buildReport, historyLines, REPORT_FORMAT, verifyReport, type Report, type ReportFinding, type ReportFix, type ReportSession, type ReportWrite } from './model.js';
export { escapeHtml, renderHtml } from './html.js';
export { CHROMIUM, headlessArgs, renderPdf } from './pdf.js';
