import {
  Entity,
  getCompoundEntityRef,
  parseEntityRef,
  RELATION_DEPENDENCY_OF,
  RELATION_DEPENDS_ON,
  RELATION_HAS_PART,
  RELATION_OWNED_BY,
  RELATION_OWNER_OF,
  RELATION_PART_OF,
  CompoundEntityRef,
} from '@backstage/catalog-model';
import { LocationSpec } from '@backstage/plugin-catalog-common';
import {
  CatalogProcessor,
  CatalogProcessorEmit,
  processingResult,
} from '@backstage/plugin-catalog-node';
import {
  isAgentEntity,
  validateAgentEntity,
} from '@internal/plugin-agents-common';

/**
 * Validates entities of kind Agent and emits their relations: ownership, the
 * system they are part of, and what they depend on.
 *
 * An invalid Agent makes `validateEntityKind` throw; the catalog records that
 * error against the entity (visible in the catalog's unprocessed-entities
 * view and its error log) instead of dropping it silently.
 *
 * @public
 */
export class AgentEntitiesProcessor implements CatalogProcessor {
  getProcessorName(): string {
    return 'AgentEntitiesProcessor';
  }

  async validateEntityKind(entity: Entity): Promise<boolean> {
    if (!isAgentEntity(entity)) {
      return false;
    }
    validateAgentEntity(entity);
    return true;
  }

  async postProcessEntity(
    entity: Entity,
    location: LocationSpec,
    emit: CatalogProcessorEmit,
  ): Promise<Entity> {
    if (!isAgentEntity(entity)) {
      return entity;
    }
    const selfRef = getCompoundEntityRef(entity);
    const ns = selfRef.namespace;

    const emitPair = (
      target: string,
      defaultKind: string,
      forward: string,
      backward: string,
    ) => {
      let targetRef: CompoundEntityRef;
      try {
        targetRef = parseEntityRef(target, {
          defaultKind,
          defaultNamespace: ns,
        });
      } catch (error) {
        emit(
          processingResult.inputError(
            location,
            `Agent ${entity.metadata.name} has an invalid reference "${target}": ${error}`,
          ),
        );
        return;
      }
      emit(
        processingResult.relation({
          source: selfRef,
          type: forward,
          target: targetRef,
        }),
      );
      emit(
        processingResult.relation({
          source: targetRef,
          type: backward,
          target: selfRef,
        }),
      );
    };

    const { spec } = entity;
    emitPair(spec.owner, 'Group', RELATION_OWNED_BY, RELATION_OWNER_OF);
    if (spec.system) {
      emitPair(spec.system, 'System', RELATION_PART_OF, RELATION_HAS_PART);
    }
    for (const dependency of spec.dependsOn ?? []) {
      emitPair(
        dependency,
        'Component',
        RELATION_DEPENDS_ON,
        RELATION_DEPENDENCY_OF,
      );
    }
    return entity;
  }
}
