import {
  ConflictException,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
} from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { FailedJobEntity, FailedJobRepository } from '@aegle/store';
import { FailedJobReplay } from '@aegle/jobs';
import { AdminApi } from '../admin/admin-token.guard';

/**
 * Routing and plugin-run jobs that gave up, and their replay by an operator (recorded: who, when, as
 * which job). Write-back failures are dead letters: see /api/dead-letters.
 */
@ApiTags('audit')
@AdminApi()
@Controller('api/audit/failed-jobs')
export class FailedJobController {
  constructor(
    private readonly failedJobs: FailedJobRepository,
    private readonly replays: FailedJobReplay,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Failed jobs, newest first' })
  @ApiOkResponse({ description: 'up to 100 failed jobs, replayed ones included' })
  list(@Query('replayed') replayed?: string): Promise<FailedJobEntity[]> {
    return this.failedJobs.list({ replayed: replayed === undefined ? undefined : replayed === 'true' });
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Put a failed job back on its queue',
    description:
      'Each failed job is replayed once; the processors are idempotent, so nothing is written twice.',
  })
  async replay(@Param('id', new ParseUUIDPipe()) id: string): Promise<{ replayJobId: string }> {
    const result = await this.replays.replay(id, 'admin-token');
    switch (result.status) {
      case 'queued':
        return { replayJobId: result.replayJobId };
      case 'not-found':
        throw new NotFoundException(result.message);
      case 'already-replayed':
      case 'unknown-queue':
        throw new ConflictException(result.message);
    }
  }
}
