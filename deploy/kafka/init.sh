#!/bin/bash
# One-shot set-up of the production Kafka cluster (run by the kafka-init service of
# docker-compose.yml and the kafka-init Job on Kubernetes), idempotent:
# - the three tahawul topics, replicated 3 times, min.insync.replicas 2;
# - SCRAM-SHA-512 users for the external SASL_SSL listener: an admin and one producer
#   account (per entity in production: see docs/operations.md);
# - ACLs: producers may only write the transactions topic; nothing else is granted.
# tahawul's own services use the internal listener (PLAINTEXT on the private network,
# principal ANONYMOUS, a super user), because the code does not speak SASL.
set -euo pipefail
BOOTSTRAP=${BOOTSTRAP:-kafka-1:9092}
PARTITIONS=${TAHAWUL_PARTITIONS:-8}
K=/opt/kafka/bin

until $K/kafka-topics.sh --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1; do sleep 2; done

topic() {  # name, then --config pairs
  local name=$1; shift
  $K/kafka-topics.sh --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$name" \
    --partitions "$PARTITIONS" --replication-factor 3 --config min.insync.replicas=2 "$@"
}
topic tahawul.transactions --config retention.ms=2592000000          # 30 days of raw events to replay
topic tahawul.validated --config retention.ms=604800000              # 7 days
topic tahawul.transactions.dlq --config retention.ms=2592000000      # 30 days of redacted rejections (docs/security.md)
# The tahawul topics are event logs (cleanup.policy=delete). Compaction is on in the brokers
# (log.cleaner.enable) for the compacted internal topics: consumer offsets and the
# transaction state log, which Faust or other clients using transactions rely on.

$K/kafka-configs.sh --bootstrap-server "$BOOTSTRAP" --alter --entity-type users --entity-name admin \
  --add-config "SCRAM-SHA-512=[iterations=8192,password=${KAFKA_ADMIN_PASSWORD}]"
$K/kafka-configs.sh --bootstrap-server "$BOOTSTRAP" --alter --entity-type users --entity-name producer \
  --add-config "SCRAM-SHA-512=[iterations=8192,password=${KAFKA_PRODUCER_PASSWORD}]"

$K/kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --add --allow-principal User:producer \
  --operation Write --operation Describe --topic tahawul.transactions
$K/kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --add --allow-principal User:producer \
  --operation IdempotentWrite --cluster
echo "kafka-init: topics, users and ACLs in place"
