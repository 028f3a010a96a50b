import { HttpStatus } from '@nestjs/common';

export type IssueSeverity = 'fatal' | 'error' | 'warning' | 'information';
/** The subset of the FHIR `issue-type` value set that Aegle reports. */
export type IssueCode =
  | 'invalid'
  | 'structure'
  | 'required'
  | 'value'
  | 'security'
  | 'login'
  | 'forbidden'
  | 'not-found'
  | 'not-supported'
  | 'too-long'
  | 'duplicate'
  | 'processing'
  | 'exception'
  | 'transient'
  | 'timeout'
  | 'informational';

export function operationOutcome(
  severity: IssueSeverity,
  code: IssueCode,
  diagnostics: string,
  expression?: string[],
): fhir4.OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity, code, diagnostics, ...(expression ? { expression } : {}) }],
  };
}

/**
 * The one error type of Aegle's FHIR-facing edges: it carries the OperationOutcome that the caller
 * receives and the HTTP status it maps to, so every entry point answers EHRs the same way.
 */
export class OperationOutcomeError extends Error {
  constructor(
    readonly status: HttpStatus,
    readonly outcome: fhir4.OperationOutcome,
  ) {
    super(outcome.issue.map((i) => i.diagnostics ?? i.code).join('; '));
    this.name = 'OperationOutcomeError';
  }

  static badRequest(diagnostics: string, expression?: string[]): OperationOutcomeError {
    return new OperationOutcomeError(
      HttpStatus.BAD_REQUEST,
      operationOutcome('error', 'invalid', diagnostics, expression),
    );
  }

  static unauthorized(diagnostics: string): OperationOutcomeError {
    return new OperationOutcomeError(
      HttpStatus.UNAUTHORIZED,
      operationOutcome('error', 'login', diagnostics),
    );
  }

  static notFound(diagnostics: string): OperationOutcomeError {
    return new OperationOutcomeError(
      HttpStatus.NOT_FOUND,
      operationOutcome('error', 'not-found', diagnostics),
    );
  }

  static unsupportedMediaType(diagnostics: string): OperationOutcomeError {
    return new OperationOutcomeError(
      HttpStatus.UNSUPPORTED_MEDIA_TYPE,
      operationOutcome('error', 'not-supported', diagnostics),
    );
  }

  static tooLarge(diagnostics: string): OperationOutcomeError {
    return new OperationOutcomeError(
      HttpStatus.PAYLOAD_TOO_LARGE,
      operationOutcome('error', 'too-long', diagnostics),
    );
  }

  static unprocessable(diagnostics: string, expression?: string[]): OperationOutcomeError {
    return new OperationOutcomeError(
      HttpStatus.UNPROCESSABLE_ENTITY,
      operationOutcome('error', 'not-supported', diagnostics, expression),
    );
  }

  static unavailable(diagnostics: string): OperationOutcomeError {
    return new OperationOutcomeError(
      HttpStatus.SERVICE_UNAVAILABLE,
      operationOutcome('error', 'transient', diagnostics),
    );
  }
}
