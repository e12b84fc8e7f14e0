import type { Scenario } from './runner/scenario';
import baseline from './baseline';
import circuitBreaker from './circuit-breaker';
import localityFailover from './locality-failover';
import connectionPool from './connection-pool';
import retries from './retries';
import timeouts from './timeouts';
import canary from './canary';
import headerRouting from './header-routing';
import faultInjection from './fault-injection';
import cascade from './cascade';
import networkChaos from './network-chaos';
import latencyBudget from './latency-budget';
import mtls from './mtls';
import authz from './authz';
import apiGateway from './api-gateway';
import redelivery from './redelivery';
import blueGreen from './blue-green';
import progressiveDelivery from './progressive-delivery';
import rollingUpdate from './rolling-update';
import slowHop from './slow-hop';
import egress from './egress';
import { kafkaOutage, rabbitOutage } from './broker-outage';
import { kafkaThroughMesh, rabbitThroughMesh } from './broker-through-mesh';

/** Every scenario, in the order `--list` shows them. */
export const SCENARIOS: Scenario[] = [baseline, circuitBreaker, localityFailover, connectionPool, retries, timeouts, canary, blueGreen, rollingUpdate, progressiveDelivery, headerRouting, faultInjection, cascade, networkChaos, redelivery, mtls, authz, egress, apiGateway, slowHop, latencyBudget, kafkaOutage, rabbitOutage, rabbitThroughMesh, kafkaThroughMesh];

export function findScenario(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`no scenario "${name}"; run \`npm run scenario -- --list\` to see them: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  return s;
}
