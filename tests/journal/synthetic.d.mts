// Types of synthetic.mjs (plain JavaScript: the crash test's child process runs it without a build).
import type { FixPlan } from '../../src-core/journal/plan.js';

export interface SyntheticWrite { btree: string; sector: number; offset: number; length: number; xor: number }
export interface SyntheticSpec { id: string; title: string; writes: SyntheticWrite[] }

export function nodeSectors(nodesTxt: string): Record<string, number>;
export function syntheticSpecs(sectors: Record<string, number>): SyntheticSpec[];
export function planFromSpec(spec: SyntheticSpec, read: (offset: number, length: number) => Uint8Array): FixPlan;
export function applySynthetic(session: { apply(plan: FixPlan): unknown; dev: { read(offset: number, length: number): Uint8Array } }, sectors: Record<string, number>): unknown;
