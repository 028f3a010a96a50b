import { BadRequestException } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { z } from 'zod';
import { AuditScope, PageRequest } from '@aegle/store';

/** Query string of the audit listings, as OpenAPI describes it. */
export class AuditQueryDto {
  @ApiPropertyOptional({ description: 'EHR source id' }) source?: string;
  @ApiPropertyOptional({ description: 'plugin id' }) plugin?: string;
  @ApiPropertyOptional({ description: 'patient reference', example: 'Patient/123' }) patient?: string;
  @ApiPropertyOptional({ description: 'event status, run outcome or write-back outcome' }) outcome?: string;
  @ApiPropertyOptional({ description: 'created at or after (ISO 8601)', format: 'date-time' }) from?: string;
  @ApiPropertyOptional({ description: 'created before (ISO 8601)', format: 'date-time' }) to?: string;
  @ApiPropertyOptional({ description: 'nextCursor of the previous page' }) cursor?: string;
  @ApiPropertyOptional({ description: 'page size', minimum: 1, maximum: 500, default: 50 }) limit?: number;
}

const text = z.string().trim().min(1).max(200);
const querySchema = z
  .object({
    source: text.optional(),
    plugin: text.optional(),
    patient: z
      .string()
      .regex(/^Patient\/[A-Za-z0-9\-.]{1,64}$/, 'must be Patient/{id}')
      .optional(),
    outcome: text.optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    cursor: z.string().max(200).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();

/** Parses the query string into a scope and a page, or a 400 naming every bad parameter. */
export function parseAuditQuery(query: unknown): { scope: AuditScope; page: PageRequest } {
  const parsed = querySchema.safeParse(query);
  if (!parsed.success) {
    throw new BadRequestException(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '),
    );
  }
  const q = parsed.data;
  return {
    scope: {
      sourceId: q.source,
      pluginId: q.plugin,
      patientRef: q.patient,
      outcome: q.outcome,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
    },
    page: { cursor: q.cursor, limit: q.limit },
  };
}
