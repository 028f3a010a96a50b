import { Module } from '@nestjs/common';
import { WriteBackModule } from '@aegle/write-back';
import { DeadLettersController } from './dead-letters.controller';

@Module({ imports: [WriteBackModule], controllers: [DeadLettersController] })
export class DeadLettersModule {}
