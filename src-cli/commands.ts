// Every CLI command, in the order the help lists them. A new command is a file of its own, added here.
import type { Command } from './command.js';
import { showSuper } from './show-super.js';
import { list } from './list.js';
import { check } from './check.js';
import { undo } from './undo.js';
import { history } from './history.js';
import { verify } from './verify.js';
import { report } from './report.js';
import { plan } from './plan.js';
import { repair } from './repair.js';

export const COMMANDS: readonly Command[] = [showSuper, list, check, plan, repair, undo, history, verify, report];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
