// The planners, one line each (the pipeline picks the lowest order with findings in each round).
// Suggested orders: superblock 0, unclean journal replay 5, unreadable nodes 10, topology 20,
// pointers and gens 30, alloc keys 40, usage and replicas 50.
import { allocPlanner } from './alloc.js';
import { fsDirentsPlanner } from './fs-dirents.js';
import { fsFieldsPlanner } from './fs-fields.js';
import { fsHashPlanner } from './fs-hash.js';
import { fsOrphansPlanner } from './fs-orphans.js';
import { fsRootPlanner } from './fs-root.js';
import { gensPlanner } from './gens.js';
import { nodesPlanner } from './nodes.js';
import { superblockPlanner } from './superblock.js';
import { topologyPlanner } from './topology.js';
import { usagePlanner } from './usage.js';
import type { Planner } from './types.js';

export type { Planner, PlanContext, RepairFix } from './types.js';

export const PLANNERS: readonly Planner[] = [
  superblockPlanner,
  nodesPlanner,
  topologyPlanner,
  gensPlanner,
  allocPlanner,
  usagePlanner,
  fsRootPlanner,
  fsHashPlanner,
  fsFieldsPlanner,
  fsDirentsPlanner,
  fsOrphansPlanner,
];
