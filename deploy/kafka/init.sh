#!/bin/bash
# One-shot set-up of the production Kafka cluster (the kafka-init service of
# docker-compose.yml and the kafka-init Job on Kubernetes), idempotent:
# - the three tahawul topics, replicated 3 times, min.insync.replicas 2;
# - the admin's SCRAM-SHA-512 credential, so that `tahawul kafka acls` (the kafka-accounts
#   service / Job, which runs next) can log in as admin and create every other account and
#   its ACLs. This script logs in with PLAIN, which only the brokers' own admin login knows
#   (a SCRAM credential cannot exist before the cluster does).
# Every listener is SASL_SSL; the broker's certificate is checked against /etc/kafka/secrets/ca.pem.
set -euo pipefail
BOOTSTRAP=${BOOTSTRAP:-kafka-1:9092}
PARTITIONS=${TAHAWUL_PARTITIONS:-8}
: "${KAFKA_ADMIN_PASSWORD:?KAFKA_ADMIN_PASSWORD is not set}"
K=/opt/kafka/bin

# The admin's client settings, in a file only this process can read (never on a command line).
umask 077
CONFIG=$(mktemp)
trap 'rm -f "$CONFIG"' EXIT
cat >"$CONFIG" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/secrets/ca.pem
ssl.endpoint.identification.algorithm=https
PROPS

until $K/kafka-topics.sh --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" --list >/dev/null 2>&1; do
  sleep 2
done

topic() {  # name, then --config pairs
  local name=$1; shift
  $K/kafka-topics.sh --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" --create --if-not-exists \
    --topic "$name" --partitions "$PARTITIONS" --replication-factor 3 --config min.insync.replicas=2 "$@"
}
topic tahawul.transactions --config retention.ms=2592000000          # 30 days of raw events to replay
topic tahawul.validated --config retention.ms=604800000              # 7 days
topic tahawul.transactions.dlq --config retention.ms=2592000000      # 30 days of redacted rejections (docs/security.md)
# The tahawul topics are event logs (cleanup.policy=delete). Compaction is on in the brokers
# (log.cleaner.enable) for the compacted internal topics: consumer offsets and the
# transaction state log.

# (kafka-configs takes a SCRAM credential only on its command line, --add-config-file
# refuses it: visible to this one-shot container's own processes for a moment, nowhere else.)
$K/kafka-configs.sh --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" --alter \
  --entity-type users --entity-name admin \
  --add-config "SCRAM-SHA-512=[iterations=8192,password=${KAFKA_ADMIN_PASSWORD}]"
echo "kafka-init: topics and the admin's SCRAM credential in place; accounts and ACLs: tahawul kafka acls"
