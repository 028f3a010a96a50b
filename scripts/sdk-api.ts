// The plugin SDK's public API, checked: builds the package (libs/plugin-sdk/dist), then API
// Extractor compares each entry of its package.json "exports" with the reviewed report in
// libs/plugin-sdk/etc/. A change to the API that the report does not show fails (`npm run lint`).
//   npm run sdk:api              check
//   npm run sdk:api -- --update  rewrite the reports after an intended change (review the diff)
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';
import { sdkEntries } from './sdk-entries';

const SDK = join(__dirname, '..', 'libs', 'plugin-sdk');
const update = process.argv.includes('--update');

execFileSync('npm', ['run', 'build', '--silent'], { cwd: SDK, stdio: 'inherit' });

const configFile = join(SDK, 'api-extractor.json');
const base = ExtractorConfig.loadFile(configFile);
let failed = 0;
for (const entry of sdkEntries(join(SDK, 'package.json'))) {
  const config = ExtractorConfig.prepare({
    configObject: {
      ...base,
      mainEntryPointFilePath: `<projectFolder>/${entry.types}`,
      apiReport: { ...base.apiReport!, enabled: true, reportFileName: entry.report },
    },
    configObjectFullPath: configFile,
    packageJsonFullPath: join(SDK, 'package.json'),
  });
  const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false });
  if (!result.succeeded) {
    failed++;
    process.stderr.write(
      result.apiReportChanged
        ? `${entry.name}: the API differs from libs/plugin-sdk/etc/${entry.report}.api.md. If the change is` +
            ' intended, run `npm run sdk:api -- --update`, commit the report and follow the semver rules' +
            ' in docs/plugin-authors.md.\n'
        : `${entry.name}: API Extractor found problems (above).\n`,
    );
  }
}
if (failed > 0) process.exit(1);
