/** The shared Backend behaviour suite against the in-memory model. */
import { VirtualBackend } from '../../src/backend/virtual/index.js';
import { defineBackendSuite, uniqueNsKey } from './shared-suite.js';

defineBackendSuite('virtual', async () => {
  const backend = new VirtualBackend();
  return {
    backend,
    nsKey: uniqueNsKey,
    async dispose() {
      await backend.close();
    },
  };
});
