import { Module } from '@nestjs/common';
import { EhrModule } from '@aegle/fhir';
import { SubscriptionManager } from './subscription-manager';

/** The FHIR Subscriptions Aegle holds at each EHR, so that notifications reach intake. */
@Module({ imports: [EhrModule], providers: [SubscriptionManager], exports: [SubscriptionManager] })
export class SubscriptionsModule {}
