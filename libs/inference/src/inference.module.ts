import { Module } from '@nestjs/common';
import { InferenceRuntime } from './inference-runtime';

@Module({ providers: [InferenceRuntime], exports: [InferenceRuntime] })
export class InferenceModule {}
