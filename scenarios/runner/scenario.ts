import type { Topology } from '../../world/topology';
import type { BusOption } from '../../world/world';
import type { ScenarioContext } from './context';

/** A lab sheet: what it teaches, the world it needs, and the steps that end in expectations. */
export interface Scenario {
  name: string;
  /** One line for `--list`. */
  title: string;
  /** What the lab teaches, 2–3 lines. */
  teaches: string[];
  /** A different world than the default (more instances, a real broker…). */
  topology?: Topology;
  bus?: BusOption;
  /**
   * Its expectations are performance figures (a benchmark): the test suite checks that they were
   * measured without errors, not their values, which depend on the machine's load.
   */
  benchmark?: boolean;
  /** Needs the real Zipkin and Prometheus (`World` option `observability`) on its own world. */
  observability?: boolean;
  /** Timeline resolution, ms. */
  bucketMs?: number;
  run(ctx: ScenarioContext): Promise<void>;
}

export function defineScenario(s: Scenario): Scenario {
  return s;
}
