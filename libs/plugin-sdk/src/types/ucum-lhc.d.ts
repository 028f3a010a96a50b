// @lhncbc/ucum-lhc ships no types; this declares the one call Aegle uses.
declare module '@lhncbc/ucum-lhc' {
  interface ConvertResult {
    status: 'succeeded' | 'failed' | 'error';
    toVal: number | null;
    msg: string[];
  }
  export class UcumLhcUtils {
    static getInstance(): UcumLhcUtils;
    convertUnitTo(
      fromUnit: string,
      value: number,
      toUnit: string,
      options?: { suggest?: boolean; molecularWeight?: number | null },
    ): ConvertResult;
  }
}
