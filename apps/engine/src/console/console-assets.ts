import { Injectable, Logger } from '@nestjs/common';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';

export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
  /** Vite names built files by their content hash: those can be cached for good. */
  immutable: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** The repository (or image) root: the nearest folder above this file with a package.json. */
function projectRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

/**
 * The console's built files (`npm run build:console` → dist/console), read once at start-up. Only
 * files found there are ever served, so no request path can reach anything else on disk.
 */
@Injectable()
export class ConsoleAssets {
  readonly dir = join(projectRoot(__dirname), 'dist', 'console');
  private readonly files = new Map<string, ConsoleAsset>();

  constructor() {
    if (!existsSync(join(this.dir, 'index.html'))) {
      new Logger(ConsoleAssets.name).warn(
        `the admin console is not built (no ${this.dir}/index.html): run npm run build:console`,
      );
      return;
    }
    for (const path of walk(this.dir)) {
      const name = relative(this.dir, path).split(sep).join('/');
      this.files.set(name, {
        body: readFileSync(path),
        contentType: CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
        immutable: name.startsWith('assets/'),
      });
    }
  }

  get built(): boolean {
    return this.files.has('index.html');
  }

  /** The file at `path`, or the app's page for a deep link; undefined for a missing file. */
  resolve(path: string): ConsoleAsset | undefined {
    const found = this.files.get(path);
    if (found) return found;
    // A path with an extension asked for a file that is not there; anything else is a route of the app.
    return extname(path) ? undefined : this.files.get('index.html');
  }
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}
