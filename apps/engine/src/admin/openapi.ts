import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/** OpenAPI for the admin API at /api/docs (JSON at /api/docs-json). */
export function setupOpenApi(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Aegle admin API')
      .setDescription('Audit trail, plugin runs, dead letters and subscriptions. Bearer AEGLE_ADMIN_TOKEN.')
      .setVersion('0.1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer' }, 'admin')
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document);
}
