/** The contract every cross-resource analyzer follows. */
import type { Message } from '../messages';
import type { AnalyzeContext, MeshResource } from '../types';

export type Analyzer = (resources: readonly MeshResource[], ctx: AnalyzeContext) => Message[];
