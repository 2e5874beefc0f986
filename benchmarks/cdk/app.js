// The benchmark's CDK app: the same root, eight nested stacks and the
// standalone GitHub OIDC stack, defined in the AWS CDK. Resources come in
// through cloudformation-include (CfnInclude), which turns every resource
// into an L1 construct and each AWS::CloudFormation::Stack into a CDK
// NestedStack; `cdk synth` then writes them out as any CDK app's are.
// Run only by benchmarks/build_bench.py: `cdk synth -c templates=DIR`.
const fs = require("fs");
const path = require("path");
const cdk = require("aws-cdk-lib");
const { CfnInclude } = require("aws-cdk-lib/cloudformation-include");

const app = new cdk.App();
const dir = path.resolve(app.node.tryGetContext("templates") || path.join(__dirname, "..", "..", "templates"));

// The children the root names by relative TemplateURL (e.g. "network.yaml").
function nestedStacks(rootFile) {
  const out = {};
  const text = fs.readFileSync(rootFile, "utf8");
  const re = /^  (\w+):\n(?:    .*\n|      .*\n)*?      TemplateURL: '?([\w.-]+\.yaml)'?$/gm;
  for (const m of text.matchAll(re)) {
    out[m[1]] = { templateFile: path.join(dir, m[2]) };
  }
  return out;
}

const root = new cdk.Stack(app, "WealistRoot");
const loadNestedStacks = nestedStacks(path.join(dir, "root.yaml"));
if (Object.keys(loadNestedStacks).length === 0) {
  throw new Error(`no nested stacks found in ${dir}/root.yaml`);
}
new CfnInclude(root, "Root", { templateFile: path.join(dir, "root.yaml"), loadNestedStacks });

const oidc = new cdk.Stack(app, "WealistGithubOidc");
new CfnInclude(oidc, "GithubOidc", { templateFile: path.join(dir, "github-oidc.yaml") });

app.synth();
