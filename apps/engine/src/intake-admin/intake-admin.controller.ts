import {
  BadGatewayException,
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { IntakeRepository } from '@aegle/store';
import { EhrClients, EhrRequestError } from '@aegle/fhir';
import { ManagedSubscription, SubscriptionManager } from '@aegle/subscriptions';
import { AdminApi } from '../admin/admin-token.guard';

/** A subscription as the intake sees it: event numbers, heartbeats, overdue flag and open catch-ups. */
export interface SubscriptionView {
  sourceId: string;
  subscription: string;
  topic: string | null;
  status: string | null;
  contiguousThrough: number | null;
  highestEventNumber: number | null;
  eventsSinceStart: number | null;
  lastNotificationAt: Date | null;
  lastHeartbeatAt: Date | null;
  lastSeenAt: Date | null;
  heartbeatOverdueSince: Date | null;
}

const num = (value: string | null) => (value === null ? null : Number(value));

/** The admin API for the intake: what each subscription has delivered, the gaps found, and the EHR side. */
@ApiTags('intake')
@AdminApi()
@Controller('api/admin')
export class IntakeAdminController {
  constructor(
    private readonly intake: IntakeRepository,
    private readonly manager: SubscriptionManager,
    private readonly ehr: EhrClients,
  ) {}

  @Get('intake/subscriptions')
  @ApiOperation({
    summary: 'Every subscription Aegle has heard from: event numbers, heartbeats, overdue flag',
  })
  @ApiQuery({ name: 'source', required: false })
  async subscriptions(@Query('source') source?: string): Promise<SubscriptionView[]> {
    const states = await this.intake.subscriptions(source);
    return states.map((s) => ({
      sourceId: s.sourceId,
      subscription: s.subscription,
      topic: s.topic,
      status: s.status,
      contiguousThrough: num(s.contiguousThrough),
      highestEventNumber: num(s.highestEventNumber),
      eventsSinceStart: num(s.eventsSinceStart),
      lastNotificationAt: s.lastNotificationAt,
      lastHeartbeatAt: s.lastHeartbeatAt,
      lastSeenAt: s.lastSeenAt,
      heartbeatOverdueSince: s.heartbeatOverdueSince,
    }));
  }

  @Get('intake/catch-ups')
  @ApiOperation({ summary: 'Gaps, pings and overdue heartbeats, newest first, with how each was caught up' })
  @ApiQuery({ name: 'source', required: false })
  @ApiQuery({ name: 'subscription', required: false })
  @ApiQuery({ name: 'limit', required: false })
  async catchUps(
    @Query('source') source?: string,
    @Query('subscription') subscription?: string,
    @Query('limit') limit?: string,
  ) {
    const take = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(take) || take < 1 || take > 1000)
      throw new BadRequestException('limit must be 1–1000');
    const rows = await this.intake.catchUps({ sourceId: source, subscription, limit: take });
    return rows.map((r) => ({ ...r, fromEvent: num(r.fromEvent), toEvent: num(r.toEvent) }));
  }

  @Get('sources/:sourceId/subscriptions')
  @ApiOperation({ summary: "Aegle's Subscriptions on the source EHR and their status there" })
  status(@Param('sourceId') sourceId: string): Promise<ManagedSubscription[]> {
    return this.onEhr(sourceId, () => this.manager.status(sourceId));
  }

  @Post('sources/:sourceId/subscriptions')
  @HttpCode(200)
  @ApiOperation({ summary: 'Create the Subscriptions on the source EHR that point it at Aegle (idempotent)' })
  create(
    @Param('sourceId') sourceId: string,
    @Body() body: { endpoint?: string } = {},
  ): Promise<ManagedSubscription[]> {
    if (body?.endpoint !== undefined && !/^https?:\/\//.test(String(body.endpoint))) {
      throw new BadRequestException('endpoint must be an http(s) URL');
    }
    return this.onEhr(sourceId, () => this.manager.create(sourceId, body?.endpoint));
  }

  @Post('sources/:sourceId/subscriptions/reactivate')
  @HttpCode(200)
  @ApiOperation({ summary: 'Set errored or switched-off Subscriptions back to requested' })
  reactivate(@Param('sourceId') sourceId: string): Promise<ManagedSubscription[]> {
    return this.onEhr(sourceId, () => this.manager.reactivate(sourceId));
  }

  @Delete('sources/:sourceId/subscriptions')
  @ApiOperation({ summary: "Remove Aegle's Subscriptions from the source EHR" })
  async remove(@Param('sourceId') sourceId: string): Promise<{ removed: number }> {
    return { removed: await this.onEhr(sourceId, () => this.manager.remove(sourceId)) };
  }

  private async onEhr<T>(sourceId: string, work: () => Promise<T>): Promise<T> {
    if (!this.ehr.source(sourceId))
      throw new NotFoundException(`no source named "${sourceId}" is configured`);
    try {
      return await work();
    } catch (error) {
      if (error instanceof EhrRequestError)
        throw new BadGatewayException(`the EHR refused: ${error.message}`);
      if (error instanceof Error) throw new BadRequestException(error.message);
      throw error;
    }
  }
}
