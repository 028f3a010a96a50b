import { runGoldenCases } from '../libs/plugin-sdk/src';
runGoldenCases('/work/wt/issue-3/plugins/prognosis-ascvd-pce').then((r) => console.log(JSON.stringify(r.map(x=>({f:x.file,p:x.passed,pr:x.problems, v: x.actual?.status==='succeeded' ? x.actual.observations.map(o=>o.valueQuantity?.value) : x.actual?.reason})), null, 1)));
