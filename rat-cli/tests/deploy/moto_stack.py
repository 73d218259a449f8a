"""Deploys deploy/aws/rat-platform.yaml into moto's CloudFormation (the
moto of scripts/test-services.sh) the way the README's runbook does on AWS:
the secrets first (Secrets Manager), a certificate, a VPC with subnets in two
zones, then the stack. Prints one JSON object: the stack's outputs, the
rat.yaml it wrote (its SSM parameter), and what moto holds of each resource
the test asserts (cluster, roles and their policies, log groups, bucket,
task definitions).

usage: moto_stack.py ENDPOINT TEMPLATE  (settings as JSON on stdin)
"""
import json
import sys
import time

import boto3

endpoint, template = sys.argv[1], sys.argv[2]
settings = json.load(sys.stdin)
kw = dict(endpoint_url=endpoint, region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
client = lambda name: boto3.client(name, **kw)
suffix = settings["suffix"]

ec2 = client("ec2")
vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24",
                             AvailabilityZone="us-east-1" + "ab"[i % 2])["Subnet"]["SubnetId"]
           for i in range(4)]
secrets = client("secretsmanager")
secret = lambda name, value: secrets.create_secret(
    Name=f"rat-{suffix}/{name}", SecretString=value)["ARN"]
certificate = client("acm").request_certificate(DomainName="rat.example.com")["CertificateArn"]

# The lake bucket's name is global: a stack an earlier run of this test left
# in this moto holds it (retained, empty); it goes, as a teardown would.
s3 = client("s3")
try:
    s3.delete_bucket(Bucket=settings["bucket"])
except s3.exceptions.ClientError:
    pass

parameters = {
    "VpcId": vpc,
    "PublicSubnets": ",".join(subnets[:2]),
    "PrivateSubnets": ",".join(subnets[2:]),
    "ServerImage": "rat:test",
    "RunnerImage": "rat-runner:test",
    "DomainName": "rat.example.com",
    "CertificateArn": certificate,
    "AuthMode": "api_key",
    "ApiKeySecretArn": secret("api-key", settings["api_key"]),
    "LakeBucketName": settings["bucket"],
    "CatalogUri": settings["catalog_uri"],
    "CatalogWarehouse": settings["warehouse"],
    "CatalogTokenSecretArn": secret("catalog-token", settings["catalog_token"]),
    "DatabaseSecretArn": secret("database", settings["database_password"]),
    "CiSubject": "repo:acme/lake:ref:refs/heads/main",
    "MaxConcurrentRuns": "4",
}
cloudformation = client("cloudformation")
name = f"rat{suffix}"
cloudformation.create_stack(
    StackName=name, TemplateBody=open(template).read(),
    Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    Capabilities=["CAPABILITY_IAM"])
for _ in range(600):
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    if not stack["StackStatus"].endswith("IN_PROGRESS"):
        break
    time.sleep(0.1)
outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
resources = {r["LogicalResourceId"]: r["ResourceType"]
             for r in cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]}

iam = client("iam")
role_name = lambda arn: arn.rsplit("/", 1)[1]
roles = {}
for key in ["ServerTaskRoleArn", "RunnerTaskRoleArn", "VendingRoleArn", "ExecutionRoleArn", "CiRoleArn"]:
    role = role_name(outputs[key])
    iam.get_role(RoleName=role)
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    roles[key] = {n: iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names}
logs = client("logs")
groups = {g["logGroupName"]: {"retention": g.get("retentionInDays"), "kms": g.get("kmsKeyId")}
          for g in logs.describe_log_groups(logGroupNamePrefix=f"/rat/{name}/")["logGroups"]}
ecs = client("ecs")
clusters = ecs.describe_clusters(clusters=[outputs["ClusterArn"]])["clusters"]
definitions = {}
for key in ["RunnerTaskDefinitionArn", "ServerTaskDefinitionArn"]:
    definition = ecs.describe_task_definition(taskDefinition=outputs[key])["taskDefinition"]
    definitions[key] = {
        "family": definition["family"],
        "taskRoleArn": definition.get("taskRoleArn"),
        "executionRoleArn": definition.get("executionRoleArn"),
        "containers": definition["containerDefinitions"],
    }
bucket = settings["bucket"]
json.dump({
    "status": stack["StackStatus"],
    "reason": stack.get("StackStatusReason"),
    "outputs": outputs,
    "resources": resources,
    "config": client("ssm").get_parameter(Name=outputs["ServerConfigParameter"])["Parameter"]["Value"],
    "roles": roles,
    "log_groups": groups,
    "clusters": [c["clusterName"] for c in clusters],
    "task_definitions": definitions,
    "bucket": {
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "encryption": s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
            ["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
    },
    "secrets": {"catalog_token": parameters["CatalogTokenSecretArn"], "api_key": parameters["ApiKeySecretArn"]},
}, sys.stdout, default=str)
