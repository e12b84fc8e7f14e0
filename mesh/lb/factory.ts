import type { EffectiveLoadBalancer } from '../config/effective';
import type { LoadBalancer } from './types';
import { LeastRequestLb } from './least-request';
import { RandomLb } from './random';
import { RingHashLb } from './ring-hash';
import { RoundRobin } from './round-robin';
import type { Rng } from '../rng';

/** The load balancer an effective DestinationRule policy asks for. */
export function createLoadBalancer(lb: EffectiveLoadBalancer, rng: Rng): LoadBalancer {
  switch (lb.type) {
    case 'ROUND_ROBIN':
      return new RoundRobin();
    case 'RANDOM':
      return new RandomLb(rng);
    case 'RING_HASH':
      return new RingHashLb(lb.minimumRingSize, rng);
    default:
      return new LeastRequestLb(rng);
  }
}
