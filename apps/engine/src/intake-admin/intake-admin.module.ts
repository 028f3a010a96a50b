import { Module } from '@nestjs/common';
import { EhrModule } from '@aegle/fhir';
import { SubscriptionsModule } from '@aegle/subscriptions';
import { IntakeAdminController } from './intake-admin.controller';

@Module({ imports: [SubscriptionsModule, EhrModule], controllers: [IntakeAdminController] })
export class IntakeAdminModule {}
