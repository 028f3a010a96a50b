import { BadRequestException, Controller, Get, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import {
  AmbiguousObservationError,
  AuditQueryRepository,
  InvalidAnchorError,
  InvalidCursorError,
  ObservationStory,
  Page,
  parseAnchor,
  verifyAuditChain,
  VerifyReport,
} from '@aegle/store';
import { AdminApi } from '../admin/admin-token.guard';
import { AuditQueryDto, parseAuditQuery } from './audit-query.dto';

async function cursorErrorsAreBadRequests<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof InvalidCursorError) throw new BadRequestException(error.message);
    throw error;
  }
}

/** The audit trail for the people who answer for it: listings, the chain check, one result's story. */
@ApiTags('audit')
@AdminApi()
@Controller('api')
export class AuditController {
  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditQueryRepository,
  ) {}

  @Get('audit/verify')
  @ApiOperation({
    summary: 'Walk the hash chain and re-hash the audited rows',
    description: 'valid=false names the first broken link (the entry, the record and what is wrong).',
  })
  @ApiOkResponse({ description: 'the verification report' })
  @ApiQuery({
    name: 'anchor',
    required: false,
    description: 'seq:hash of an entry kept outside the database (repeatable)',
  })
  verify(@Query('anchor') anchor?: string | string[]): Promise<VerifyReport> {
    let anchors;
    try {
      anchors = (anchor === undefined ? [] : Array.isArray(anchor) ? anchor : [anchor]).map(parseAnchor);
    } catch (error) {
      if (error instanceof InvalidAnchorError) throw new BadRequestException(error.message);
      throw error;
    }
    return verifyAuditChain(this.db, { anchors });
  }

  @Get('audit/events')
  @ApiOperation({ summary: 'Normalised events, newest first (outcome = event status)' })
  @ApiOkResponse({ description: '{ items, nextCursor }' })
  events(@Query() query: AuditQueryDto): Promise<Page<unknown>> {
    const { scope, page } = parseAuditQuery(query);
    return cursorErrorsAreBadRequests(this.audit.findEvents(scope, page));
  }

  @Get('audit/runs')
  @ApiOperation({ summary: 'Plugin runs with model, inputs and outputs, newest first' })
  @ApiOkResponse({ description: '{ items, nextCursor }' })
  runs(@Query() query: AuditQueryDto): Promise<Page<unknown>> {
    const { scope, page } = parseAuditQuery(query);
    return cursorErrorsAreBadRequests(this.audit.findRuns(scope, page));
  }

  @Get('audit/write-backs')
  @ApiOperation({ summary: 'Write-back attempts to the EHR, newest first' })
  @ApiOkResponse({ description: '{ items, nextCursor }' })
  writeBacks(@Query() query: AuditQueryDto): Promise<Page<unknown>> {
    const { scope, page } = parseAuditQuery(query);
    return cursorErrorsAreBadRequests(this.audit.findWriteBacks(scope, page));
  }

  @Get('observations/:id/story')
  @ApiOperation({
    summary: 'The whole story of one Observation Aegle wrote',
    description:
      'notification → event → run (inputs with references and versions, model, outputs) → write-backs, with the audit entries of each and their integrity.',
  })
  @ApiQuery({ name: 'source', required: false, description: 'needed when two sources use the same id' })
  async story(@Param('id') id: string, @Query('source') source?: string): Promise<ObservationStory> {
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw new BadRequestException('not a FHIR resource id');
    try {
      const story = await this.audit.observationStory(id, source);
      if (!story) throw new NotFoundException(`Aegle wrote no Observation/${id}`);
      return story;
    } catch (error) {
      if (error instanceof AmbiguousObservationError) throw new BadRequestException(error.message);
      throw error;
    }
  }
}
