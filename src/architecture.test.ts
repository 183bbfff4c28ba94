import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * The import arrows between the top-level rooms of src/ point one way
 * (issue 26): service/ wires identity/, providers/, oauth/, config/ and
 * database/ together, and nothing below it imports it back, not even a type.
 * Shared option types live where they are consumed (e.g. IdentityOptions,
 * ProvidersRouterOptions) or in a lower room, never in service/.
 */

const SRC = __dirname;
/** Test-only rooms: production code may not import them (ESLint), so they are no part of the graph. */
const TEST_ROOMS = new Set(['e2e', 'testUtils']);
/** Files directly in src/ (plugin.ts, index.ts): the top. */
const ROOT = '(root)';

/**
 * Room-to-room imports that close a circle today and are left for later.
 * Remove an entry once its circle is gone (the last test insists).
 */
const KNOWN_BACK_EDGES: Record<string, string> = {
  'config -> oauth':
    'config/ parsers use oauth/ helpers (client token names, URL patterns, redirect URI rules, scopes) while oauth/ uses config types',
  'database -> identity':
    'database/DbSigningKeyStore implements identity/KeyStore, while identity/createIdentity builds the database stores',
};

interface Import {
  from: string;
  specifier: string;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [full] : [];
  });
}

/** The room of a path under src/: its first folder, or ROOT for src/ itself and the files in it. */
function roomOf(target: string): string {
  const [first, ...rest] = path.relative(SRC, target).split(path.sep);
  const isFolder = rest.length > 0 || (first !== '' && fs.statSync(target, { throwIfNoEntry: false })?.isDirectory());
  return isFolder ? first : ROOT;
}

/** Every relative module a file names: import, import type, export … from, import(), require(). */
function relativeImports(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  return importedFiles.map(f => f.fileName).filter(name => name.startsWith('.'));
}

/** The room a relative specifier lands in, or undefined when it leaves src/. */
function targetRoom(file: string, specifier: string): string | undefined {
  const target = path.resolve(path.dirname(file), specifier);
  const relative = path.relative(SRC, target);
  return relative.startsWith('..') || path.isAbsolute(relative) ? undefined : roomOf(target);
}

/** `from -> to` edges between production rooms, with the imports that make each. */
function roomGraph(): Map<string, Import[]> {
  const edges = new Map<string, Import[]>();
  for (const file of sourceFiles(SRC)) {
    const room = roomOf(file);
    if (TEST_ROOMS.has(room)) continue;
    for (const specifier of relativeImports(file)) {
      const target = targetRoom(file, specifier);
      if (!target || target === room) continue;
      const key = `${room} -> ${target}`;
      edges.set(key, [...(edges.get(key) ?? []), { from: path.relative(SRC, file), specifier }]);
    }
  }
  return edges;
}

/** One circle of rooms as `a -> b -> … -> a`, or undefined when there is none. */
function findCycle(edges: Iterable<string>): string[] | undefined {
  const next = new Map<string, string[]>();
  for (const edge of edges) {
    const [from, to] = edge.split(' -> ');
    next.set(from, [...(next.get(from) ?? []), to]);
  }
  const done = new Set<string>();
  const visit = (room: string, trail: string[]): string[] | undefined => {
    const seen = trail.indexOf(room);
    if (seen >= 0) return [...trail.slice(seen), room];
    if (done.has(room)) return undefined;
    for (const to of next.get(room) ?? []) {
      const cycle = visit(to, [...trail, room]);
      if (cycle) return cycle;
    }
    done.add(room);
    return undefined;
  };
  for (const room of [...next.keys()].sort()) {
    const cycle = visit(room, []);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('architecture: imports between the rooms of src/', () => {
  const graph = roomGraph();

  it.each(['identity', 'providers'])('%s/ imports nothing from service/', room => {
    const imports = graph.get(`${room} -> service`) ?? [];
    expect(imports.map(i => `${i.from}: ${i.specifier}`)).toEqual([]);
  });

  it('has no circle between rooms (beyond the known ones)', () => {
    const edges = [...graph.keys()].filter(edge => !(edge in KNOWN_BACK_EDGES));
    const cycle = findCycle(edges);
    const evidence = (cycle ?? []).slice(1).flatMap((to, i) => {
      const key = `${cycle![i]} -> ${to}`;
      return (graph.get(key) ?? []).map(imp => `${key}: ${imp.from} imports ${imp.specifier}`);
    });
    expect({ cycle, evidence }).toEqual({ cycle: undefined, evidence: [] });
  });

  it('lists only known back edges that still exist', () => {
    expect(Object.keys(KNOWN_BACK_EDGES).filter(edge => !graph.has(edge))).toEqual([]);
  });

  it('reads the graph it guards', () => {
    // The check must see the wiring, or it would pass on an empty graph.
    expect(graph.has('service -> identity')).toBe(true);
    expect(graph.has('service -> providers')).toBe(true);
    expect(graph.has(`${ROOT} -> service`)).toBe(true);
  });
});
