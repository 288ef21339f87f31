/**
 * `npm run bench [name...]`: runs every benchmark under bench/<name>/main.ts
 * (or only the named ones) one after the other; each prints its own table.
 */
import { readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const all = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(here, d.name, 'main.ts')))
  .map((d) => d.name)
  .sort();
const names = wanted.length > 0 ? wanted : all;
for (const name of names) {
  if (!all.includes(name)) {
    console.error(`bench: unknown benchmark "${name}" (have: ${all.join(', ')})`);
    process.exit(2);
  }
}
for (const name of names) {
  console.log(`\n=== bench/${name} ===`);
  const mod = (await import(pathToFileURL(join(here, name, 'main.ts')).href)) as { main?: () => Promise<void> };
  if (typeof mod.main !== 'function') throw new Error(`bench/${name}/main.ts exports no main()`);
  await mod.main();
}
