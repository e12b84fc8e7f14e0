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
   * The world's bus is a broker of the lab's own, started for the run on free ports and removed after it
   * (`ctx.broker`): for labs that stop their broker, which must never be the machine's shared one.
   */
  ownBroker?: 'kafka' | 'rabbitmq';
  /**
   * Its expectations are performance figures (a benchmark): the test suite checks that they were
   * measured without errors, not their values, which depend on the machine's load.
   */
  benchmark?: boolean;
  /**
   * The control arm (`--control`): the same fault and load with the lab's policy removed (or the
   * protection turned off). `run` reads `ctx.control` to leave the policy out. The control arm must
   * end in FAIL on every expectation named in `fails` (name prefixes): the ones the policy is
   * responsible for. A lab that teaches side by side has both arms in its normal report too.
   */
  control?: {
    /** What the control arm leaves out, e.g. "no retries (the VirtualService without retryOn: 5xx)". */
    removes: string;
    /** What the control arm shows, one line (the README's lab table). */
    shows: string;
    /** Expectations (name prefixes) that must FAIL without the policy. */
    fails: string[];
  };
  /** Needs the world's external systems (`World` option `externals`: the mail provider) on its own world. */
  externals?: boolean;
  /** World options per arm, for a lab whose control arm needs a different world (`broker-through-mesh`: the bus beside the mesh). */
  world?: (control: boolean) => { busThroughMesh?: boolean };
  /** Needs the real Zipkin and Prometheus (`World` option `observability`) on its own world. */
  observability?: boolean;
  /** Timeline resolution, ms. */
  bucketMs?: number;
  run(ctx: ScenarioContext): Promise<void>;
}

export function defineScenario(s: Scenario): Scenario {
  return s;
}
