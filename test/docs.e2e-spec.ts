import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

const ROOT = resolve(__dirname, '..');

/** README.md and every Markdown file under docs/. */
function documents(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory()
        ? walk(join(dir, entry.name))
        : entry.name.endsWith('.md')
          ? [join(dir, entry.name)]
          : [],
    );
  return [join(ROOT, 'README.md'), ...walk(join(ROOT, 'docs'))];
}

interface Block {
  lang: string;
  text: string;
  line: number;
}

/** The fenced code blocks of a Markdown text, and the prose around them. */
function parse(markdown: string): { blocks: Block[]; prose: string; unclosed?: number } {
  const blocks: Block[] = [];
  const prose: string[] = [];
  let open: { fence: string; lang: string; line: number; lines: string[] } | undefined;
  markdown.split('\n').forEach((line, i) => {
    const fence = /^\s*(`{3,}|~{3,})\s*([\w-]*)/.exec(line);
    if (!open && fence) open = { fence: fence[1], lang: fence[2].toLowerCase(), line: i + 1, lines: [] };
    else if (
      open &&
      fence &&
      fence[1][0] === open.fence[0] &&
      fence[1].length >= open.fence.length &&
      !fence[2]
    ) {
      blocks.push({ lang: open.lang, text: open.lines.join('\n'), line: open.line });
      open = undefined;
    } else if (open) open.lines.push(line);
    else prose.push(line);
  });
  return { blocks, prose: prose.join('\n'), unclosed: open?.line };
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const match of parse(readFileSync(file, 'utf8')).prose.matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const base = slug(match[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** The docs a user reads: every link goes somewhere, every config and JSON example parses. */
describe.each(documents().map((file) => [relative(ROOT, file), file]))('%s', (_name, file) => {
  const markdown = readFileSync(file, 'utf8');
  const { blocks, prose, unclosed } = parse(markdown);

  it('closes every code fence', () => {
    expect(unclosed).toBeUndefined();
  });

  it('links only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const [, target] of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split('#');
      const linked = path ? resolve(dirname(file), decodeURIComponent(path)) : file;
      if (!existsSync(linked)) broken.push(`${target}: no such file`);
      else if (anchor && linked.endsWith('.md') && !anchorsOf(linked).has(anchor)) {
        broken.push(`${target}: no heading #${anchor}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('has YAML and JSON examples that parse', () => {
    const problems: string[] = [];
    for (const block of blocks) {
      if (block.lang === 'yaml' || block.lang === 'yml') {
        for (const doc of parseAllDocuments(block.text)) {
          for (const error of doc.errors)
            problems.push(`line ${block.line}: ${error.message.split('\n')[0]}`);
        }
      } else if (block.lang === 'json') {
        try {
          // An excerpt of an object's members (`"policy": { … }`) is read inside braces.
          JSON.parse(/^\s*[{[]/.test(block.text) ? block.text : `{${block.text}}`);
        } catch (error) {
          problems.push(`line ${block.line}: ${(error as Error).message}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
