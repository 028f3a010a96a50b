import { Module } from '@nestjs/common';
import { IntakeModule } from '@aegle/intake';
import { IntakeController } from './intake.controller';

@Module({ imports: [IntakeModule], controllers: [IntakeController] })
export class IntakeApiModule {}
