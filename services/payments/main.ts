import { fatal, runService } from '../shared/runtime';
import { registerPayments } from './app';
import { PaymentStore } from './store';

runService(async ({ ctx, app }) => {
  const store = new PaymentStore(ctx.dataDir);
  registerPayments(app, { store, version: ctx.version, instance: ctx.instance });
  return () => store.close();
}).catch(fatal('payments'));
