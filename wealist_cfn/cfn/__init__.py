"""Reading a set of CloudFormation templates: the YAML loader and the model of the set."""
