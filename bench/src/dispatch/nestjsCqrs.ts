// @nestjs/cqrs: CommandBus.execute in a real Nest application context.
//
// Node's type stripping cannot run decorators, so they are applied as the functions they are: what
// `@CommandHandler(IncrementCommand) class IncrementHandler {}` and `@Module({...}) class AppModule {}` compile to.
import 'reflect-metadata';
import { ok, type Success } from '@myelin/core';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Command, CommandBus, CommandHandler, CqrsModule, type ICommandHandler } from '@nestjs/cqrs';
import type { Case } from '../harness.ts';

class IncrementCommand extends Command<Success<number>> {
  readonly a: number;
  constructor(a: number) {
    super();
    this.a = a;
  }
}

const handle = async (command: IncrementCommand): Promise<Success<number>> => ok(command.a + 1);

class IncrementHandler implements ICommandHandler<IncrementCommand> {
  execute(command: IncrementCommand): Promise<Success<number>> {
    return handle(command);
  }
}
CommandHandler(IncrementCommand)(IncrementHandler);

class AppModule {}
Module({ imports: [CqrsModule.forRoot()], providers: [IncrementHandler] })(AppModule);

export interface NestCases {
  readonly nestjsCqrs: Case;
  readonly once: (a: number) => Promise<unknown>;
  readonly close: () => Promise<void>;
}

export async function setUpNestjsCqrs(): Promise<NestCases> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  const bus = app.get(CommandBus);
  return {
    nestjsCqrs: {
      name: 'nestjsCqrs',
      async batch(iterations) {
        let sum = 0;
        for (let i = 0; i < iterations; i++) sum += (await bus.execute(new IncrementCommand(i))).data;
        return sum;
      },
    },
    once: (a) => bus.execute(new IncrementCommand(a)),
    close: () => app.close(),
  };
}
