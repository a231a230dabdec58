// Child process of the crash test: applies the synthetic fixes (mode "apply") or undoes everything (mode
// "undo") through the built journal (dist/), with BCACHEFS_REPAIR_CRASH_AT set by the test to kill it at a
// given step. Prints {"steps": N} when it gets to the end.
import { openRepairSession, stepsTaken } from '../../dist/src-core/journal/index.js';
import { TOOL_NAME, toolVersion } from '../../dist/src-core/ops/version.js';
import { applySynthetic, nodeSectors } from './synthetic.mjs';

const [mode, image, journal, nodesTxt] = process.argv.slice(2);
const session = openRepairSession({ journal, device: image, who: 'crash test', toolVersion: `${TOOL_NAME} ${toolVersion()}` });
try {
  if (mode === 'apply') applySynthetic(session, nodeSectors(nodesTxt));
  else session.undo({ all: true });
} finally {
  session.close();
}
process.stdout.write(JSON.stringify({ steps: stepsTaken() }) + '\n');
