/** `cnmkit serve`: the reference driver and IPAM on one plugin socket. */
import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';
import { parseAddressPoolFlag, type AddressPoolSpec } from '../ipam/index.js';
import { PLUGIN_SOCKET_DIR, PROFILES, type Profile } from '../protocol/constants.js';
import { createReferencePlugin, type BackendKind } from '../reference/plugin.js';
import { servePlugin, type ListenOptions } from '../sdk/index.js';
import type { IpamApi } from '../protocol/api.js';

interface ServeArgs {
  socket?: string;
  listen?: string;
  name: string;
  backend: BackendKind;
  state?: string;
  'default-address-pools'?: string[];
  profile: Profile;
  'spec-dir'?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
  store?: string;
  'store-local'?: boolean;
  'store-prefix': string;
  'store-timeout': number;
  scope: 'local' | 'global';
}

export function registerServe(cli: Argv): Argv {
  return cli.command(
    'serve',
    'Serve the reference network driver and IPAM on one plugin socket',
    (y) =>
      y
        .option('socket', { type: 'string', describe: `unix socket path (default ${PLUGIN_SOCKET_DIR}/<name>.sock)` })
        .option('listen', { type: 'string', describe: 'listen on tcp://HOST:PORT instead (writes <spec-dir>/<name>.spec)' })
        .conflicts('socket', 'listen')
        .option('name', { type: 'string', default: 'cnmkit', describe: 'plugin name (socket / spec file name)' })
        .option('backend', { choices: ['virtual', 'linux'] as const, default: 'virtual' as const, describe: 'networking backend' })
        .option('state', { type: 'string', describe: 'directory for durable state (survives restarts and kill -9)' })
        .option('default-address-pools', {
          type: 'string',
          array: true,
          describe: 'predefined local pools, base=CIDR,size=N (repeatable; replaces Docker\'s list)',
        })
        .option('profile', { choices: PROFILES, default: 'docker-20.10' as Profile, describe: 'behaviour profile' })
        .option('spec-dir', { type: 'string', describe: 'directory for the .spec/.json file with --listen (default /etc/docker/plugins)' })
        .option('tls-cert', { type: 'string', describe: 'server certificate (PEM) for --listen; enables TLS' })
        .option('tls-key', { type: 'string', describe: 'server key (PEM) for --listen' })
        .option('tls-ca', { type: 'string', describe: 'CA the daemon verifies the server with (writes a .json spec)' })
        .option('store', {
          type: 'string',
          describe: 'keep the GlobalDefault address space in etcd, etcd://HOST:PORT[,HOST:PORT...]: instances on one etcd act as one IPAM',
        })
        .option('store-local', { type: 'boolean', default: false, describe: 'with --store: keep LocalDefault in etcd too' })
        .option('store-prefix', { type: 'string', default: '/cnmkit/ipam/', describe: 'with --store: etcd key prefix (one shared IPAM per prefix)' })
        .option('store-timeout', { type: 'number', default: 10_000, describe: 'with --store: ms until a call etcd has not confirmed fails with {"Err"}' })
        .option('scope', {
          choices: ['local', 'global'] as const,
          default: 'local' as const,
          describe: 'driver scope; global: swarm networks (AllocateNetwork hands out a segment id every node\'s CreateNetwork uses)',
        }),
    async (argv) => {
      await serve(argv as unknown as ServeArgs);
    },
  );
}

function listenOptions(a: ServeArgs): ListenOptions {
  if (a.listen !== undefined) {
    if (!/^tcp:\/\//.test(a.listen)) throw new UsageError(`--listen must look like tcp://HOST:PORT, got "${a.listen}"`);
    if ((a['tls-cert'] === undefined) !== (a['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
    const tls = a['tls-cert'] !== undefined && a['tls-key'] !== undefined ? { cert: a['tls-cert'], key: a['tls-key'], ca: a['tls-ca'] } : undefined;
    return { tcp: a.listen, name: a.name, specDir: a['spec-dir'], tls };
  }
  if (a['tls-cert'] !== undefined || a['tls-key'] !== undefined) throw new UsageError('--tls-cert/--tls-key need --listen');
  if (a.socket !== undefined) return { socket: a.socket };
  return { name: a.name };
}

function addressPools(flags: readonly string[] | undefined): AddressPoolSpec[] | undefined {
  if (flags === undefined || flags.length === 0) return undefined;
  return flags.map((f) => {
    try {
      return parseAddressPoolFlag(f);
    } catch (e) {
      throw new UsageError(`--default-address-pools: ${(e as Error).message}`);
    }
  });
}

async function serve(a: ServeArgs): Promise<void> {
  const listen = listenOptions(a);
  const pools = addressPools(a['default-address-pools']);
  if (a.store === undefined && (a['store-local'] === true || a['store-prefix'] !== '/cnmkit/ipam/')) throw new UsageError('--store-local and --store-prefix need --store');
  if (!Number.isFinite(a['store-timeout']) || a['store-timeout'] < 100) throw new UsageError(`--store-timeout must be a number of ms >= 100, got ${a['store-timeout']}`);
  const plugin = await createReferencePlugin({ backend: a.backend, stateDir: a.state, defaultAddressPools: pools, profile: a.profile, scope: a.scope });
  let ipam: IpamApi = plugin.ipam;
  let closeStore = async (): Promise<void> => {};
  if (a.store !== undefined) {
    // Loaded lazily: only --store needs the etcd client.
    const { openSharedIpam, StoreError } = await import('../ipam/store/index.js');
    try {
      const shared = openSharedIpam({
        store: a.store,
        prefix: a['store-prefix'],
        // The shared IPAM closes its store; the plugin closes the local IPAM.
        local: { ...bindIpam(plugin.ipam), close: async () => {} },
        localDefaultInStore: a['store-local'] === true,
        profile: a.profile,
        defaultAddressPools: pools,
        customAddressSpaces: true,
        timeoutMs: a['store-timeout'],
      });
      ipam = shared;
      closeStore = () => shared.close();
      // Serve anyway when etcd is not reachable yet (it may come later); say so once.
      await shared.probe(3000).catch((e: Error) => {
        process.stderr.write(`cnmkit serve: warning: etcd not reachable yet (${e.message}); calls for the shared spaces fail until it is\n`);
      });
    } catch (e) {
      await plugin.close();
      if (e instanceof StoreError) throw new UsageError(`--store: ${e.message}`);
      throw e;
    }
  }
  let server;
  try {
    server = await servePlugin({ driver: plugin.driver, ipam, listen, profile: a.profile });
  } catch (e) {
    await closeStore();
    await plugin.close();
    throw e;
  }
  const what = 'NetworkDriver + IpamDriver';
  const where = a.store === undefined ? '' : ` (${a['store-local'] === true ? 'GlobalDefault and LocalDefault' : 'GlobalDefault'} in ${a.store}${a['store-prefix']})`;
  process.stdout.write(`cnmkit serve: ${what} on ${server.address}${a.state ? ` (state in ${a.state})` : ''}${where}\n`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`cnmkit serve: ${sig}, shutting down\n`);
      void (async () => {
        await server.close();
        await closeStore();
        await plugin.close();
        resolve();
      })();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** The IpamApi methods of the reference IPAM, bound (the shared IPAM calls them for the spaces it keeps local). */
function bindIpam(r: IpamApi): IpamApi {
  return {
    getCapabilities: r.getCapabilities?.bind(r),
    getDefaultAddressSpaces: r.getDefaultAddressSpaces.bind(r),
    requestPool: r.requestPool.bind(r),
    releasePool: r.releasePool.bind(r),
    requestAddress: r.requestAddress.bind(r),
    releaseAddress: r.releaseAddress.bind(r),
  };
}
