import { Module } from '@nestjs/common';
import { EhrClients } from './ehr-clients';

/** The EHR clients, one per configured source, shared by every stage that talks to an EHR. */
@Module({ providers: [EhrClients], exports: [EhrClients] })
export class EhrModule {}
